-- Contracts still Active after their expiry date.
-- Why it matters: the contract was neither renewed nor closed off. It keeps billing and
--   counting as active on the customer's dashboard while the CRM lists it as expired, and the
--   renewal conversation with the customer is overdue.
-- Parameters: :today  the local date of the check (settings' today, not the database clock).
-- Indexes relied on: contract(expiry_date).
SELECT
    c.contract_no AS contract_no,
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    c.status AS status,
    c.start_date AS start_date,
    c.expiry_date AS expiry_date
FROM contract c
LEFT JOIN customer cu ON cu.customer_id = c.customer_id
WHERE c.status = 'Active'
  AND c.expiry_date < :today
ORDER BY c.expiry_date, c.contract_no
