-- Purpose: the contracts whose derived rows (contract_row) read a customer row the sync has just
--   derived again and that no longer agree with it: the customer's account no, name or main
--   salesman changed, the customer is gone, or the customer is back (its contracts have no row).
--   An incremental sync or a Refresh derives these contract rows again besides those whose own
--   rows changed; a change to a customer's phone or contract counts touches none of them.
-- Parameters: none; reads the temporary tables touched_customer and touched_contract
--   (derived_rows.Touched) and leaves out the contracts touched_contract already lists.
-- Indexes: contract_row(customer_id, expiry_date), customer_row and contract_row primary keys,
--   contract(customer_id, status, expiry_date)
SELECT q.contract_id
FROM contract_row q
LEFT JOIN customer_row cr ON cr.customer_id = q.customer_id
WHERE q.customer_id IN (SELECT t.customer_id FROM touched_customer t)
  AND (cr.customer_id IS NULL
       OR q.account_no <> cr.account_no
       OR q.customer_name <> cr.customer_name
       OR q.main_salesman <> cr.main_salesman
       OR (q.main_salesman IS NULL AND cr.main_salesman IS NOT NULL)
       OR (q.main_salesman IS NOT NULL AND cr.main_salesman IS NULL))
  AND q.contract_id NOT IN (SELECT t.contract_id FROM touched_contract t)
UNION
SELECT c.contract_id
FROM contract c
WHERE c.customer_id IN (SELECT t.customer_id FROM touched_customer t)
  AND NOT EXISTS (SELECT 1 FROM contract_row q WHERE q.contract_id = c.contract_id)
  AND c.contract_id NOT IN (SELECT t.contract_id FROM touched_contract t)
