-- Contract numbers used by more than one contract (compared trimmed and case-insensitively).
-- Why it matters: the contract number is how staff, customers and the report URL
--   (/contracts/<contract_no>/report) name a contract; a duplicate shows one customer the
--   other's contract and splits billing history.
-- Parameters: none.
-- Indexes relied on: contract(contract_no) for the grouping.
SELECT
    c.contract_no AS contract_no,
    c.contract_id AS contract_id,
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    c.status AS status,
    c.start_date AS start_date,
    c.expiry_date AS expiry_date
FROM contract c
LEFT JOIN customer cu ON cu.customer_id = c.customer_id
WHERE UPPER(LTRIM(RTRIM(c.contract_no))) IN (
    SELECT UPPER(LTRIM(RTRIM(d.contract_no)))
    FROM contract d
    GROUP BY UPPER(LTRIM(RTRIM(d.contract_no)))
    HAVING COUNT(*) > 1
)
ORDER BY UPPER(LTRIM(RTRIM(c.contract_no))), c.contract_id
