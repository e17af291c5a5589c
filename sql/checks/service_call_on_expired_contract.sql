-- Service calls logged against a contract after that contract's expiry date.
-- Why it matters: the work (parts, toner, labour, travel) is given away under a contract that
--   no longer pays for it, and the cost lands on the wrong contract's performance report.
-- Parameters: none.
-- Indexes relied on: service_call(contract_id).
SELECT
    sc.call_no AS call_no,
    c.contract_no AS contract_no,
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    sc.status AS call_status,
    sc.logged_date AS logged_date,
    c.status AS contract_status,
    c.expiry_date AS expiry_date
FROM service_call sc
JOIN contract c ON c.contract_id = sc.contract_id
LEFT JOIN customer cu ON cu.customer_id = c.customer_id
WHERE {{ date_of('sc.logged_date') }} > c.expiry_date
ORDER BY sc.logged_date, sc.call_no
