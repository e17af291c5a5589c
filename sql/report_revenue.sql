-- Contract Performance report: revenue and billed volume of one contract, per month, machine,
-- line type (Fee, MinBilling, Meter) and meter type (Mono, Colour), up to and including :today.
-- Money comes back as whole cents (amount_cents), so sums are exact on every engine, SQLite's
-- floating-point NUMERIC included; volume is the billed volume of the lines (Meter lines carry it).
-- Python folds these rows into contract-to-date, last-12-months, month and machine figures.
-- "Last 12 months" = invoice_date within [first day of the month 11 months before today's month, :today].
-- Parameters: :contract_id, :today (date; later invoice lines are not yet earned)
-- Indexes relied on: invoice_line(contract_id, invoice_date).
SELECT {{ year('il.invoice_date') }} AS yr,
       {{ month('il.invoice_date') }} AS mon,
       il.asset_id,
       il.line_type,
       il.meter_type,
       SUM(ROUND(il.amount * 100, 0)) AS amount_cents,
       SUM(il.volume) AS volume,
       COUNT(*) AS line_count
FROM invoice_line il
WHERE il.contract_id = :contract_id AND il.invoice_date <= :today
GROUP BY {{ year('il.invoice_date') }}, {{ month('il.invoice_date') }}, il.asset_id, il.line_type, il.meter_type
