-- Contracts (other than Cancelled ones) without a single machine on them.
-- Why it matters: nothing on the contract can be metered or serviced, so it bills fees without
--   copies, its performance report is empty, and service calls cannot be tied to it.
-- Parameters: none.
-- Indexes relied on: contract_item(contract_id).
SELECT
    c.contract_no AS contract_no,
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    c.status AS status,
    c.start_date AS start_date,
    c.expiry_date AS expiry_date
FROM contract c
LEFT JOIN customer cu ON cu.customer_id = c.customer_id
WHERE c.status <> 'Cancelled'
  AND NOT EXISTS (SELECT 1 FROM contract_item ci WHERE ci.contract_id = c.contract_id)
ORDER BY c.contract_no
