-- Contract Performance report: the machines on one contract (serial, model, location).
-- Parameters: :contract_id
-- Indexes relied on: contract_item(contract_id); asset primary key.
SELECT ci.contract_item_id, ci.asset_id, a.serial_no, a.model_no, a.description, ci.location_desc
FROM contract_item ci
LEFT JOIN asset a ON a.asset_id = ci.asset_id
WHERE ci.contract_id = :contract_id
ORDER BY a.serial_no, ci.contract_item_id
