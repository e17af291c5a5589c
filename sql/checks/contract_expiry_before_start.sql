-- Contracts whose expiry date precedes their start date.
-- Why it matters: such a contract is never in force. Months Remaining, the Expired and
--   Expiring tabs and the renewal list all classify it by a date that cannot be right.
-- Parameters: none.
-- Indexes relied on: none (one pass over contract).
SELECT
    c.contract_no AS contract_no,
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    c.status AS status,
    c.start_date AS start_date,
    c.expiry_date AS expiry_date
FROM contract c
LEFT JOIN customer cu ON cu.customer_id = c.customer_id
WHERE c.expiry_date < c.start_date
ORDER BY c.contract_no
