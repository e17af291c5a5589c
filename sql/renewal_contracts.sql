-- Purpose: the contracts a user may see whose expiry date falls between :from_date and
--   :to_date (both included), soonest first, with the stored last-12-months profitability: the
--   weekly expiry digest's sections and the calendar feed. Excluded statuses are left out.
--   `flagged` keeps only renewals flagged unprofitable (margin_12m below :margin_below) or
--   volume falling (volume_trend below :trend_below).
-- Rendered apart for an administrator (see_all: every customer) and for a salesman (the
--   customers he is main or linked salesman of).
-- Parameters: :from_date, :to_date, :excluded (expanding), :employee_id (salesman form),
--   :margin_below, :trend_below (flagged form)
-- Indexes: contract_row(status, expiry_date, contract_id), contract_row(customer_id, expiry_date),
--   customer_salesman(employee_id, customer_id)
SELECT
    c.contract_id AS contract_id,
    c.contract_no AS contract_no,
    c.account_no AS account_no,
    c.customer_name AS customer_name,
    c.contract_type AS contract_type,
    c.status AS status,
    c.expiry_date AS expiry_date,
    c.machines AS machines,
    c.margin_12m AS margin_12m,
    c.volume_trend AS volume_trend
FROM contract_row c
{%- if not see_all|default(false) %}
JOIN customer_salesman v ON v.customer_id = c.customer_id AND v.employee_id = :employee_id
{%- endif %}
WHERE c.expiry_date >= :from_date
  AND c.expiry_date <= :to_date
  AND c.status NOT IN :excluded
{%- if flagged|default(false) %}
  AND (c.margin_12m < :margin_below OR c.volume_trend < :trend_below)
{%- endif %}
ORDER BY c.expiry_date, c.contract_no, c.contract_id
