-- Contracts invoiced after their expiry date (one row per contract).
-- Why it matters: the customer is billed without a contract in force, which invites
--   disputes and credit notes, or the contract was renewed in practice but not in BPO2.
-- Parameters: none.
-- Indexes relied on: invoice_line(contract_id, invoice_date).
SELECT
    c.contract_no AS contract_no,
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    c.status AS status,
    c.expiry_date AS expiry_date,
    COUNT(*) AS invoice_lines,
    MIN(il.invoice_date) AS first_invoice_date,
    MAX(il.invoice_date) AS last_invoice_date,
    SUM(il.amount) AS amount
FROM invoice_line il
JOIN contract c ON c.contract_id = il.contract_id
LEFT JOIN customer cu ON cu.customer_id = c.customer_id
WHERE il.invoice_date > c.expiry_date
GROUP BY c.contract_no, cu.account_no, cu.customer_name, c.status, c.expiry_date
ORDER BY c.contract_no
