-- Purpose: the customer's revenue per month (all its contracts' invoice lines), for the
--   Customer Dashboard's 12 Months Sales History chart.
-- Parameters: :customer_id, :since (first day of the first month), :until (last day shown)
-- Indexes: contract(customer_id, status, expiry_date), invoice_line(contract_id, invoice_date)
SELECT {{ month_start('il.invoice_date') }} AS month, SUM(il.amount) AS revenue
FROM invoice_line il
JOIN contract k ON k.contract_id = il.contract_id
WHERE k.customer_id = :customer_id
  AND il.invoice_date >= :since AND il.invoice_date <= :until
GROUP BY {{ month_start('il.invoice_date') }}
ORDER BY month
