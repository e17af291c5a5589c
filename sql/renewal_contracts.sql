-- Purpose: the contracts a user may see whose expiry date falls between :from_date and
--   :to_date (both included), with the stored last-12-months profitability: the
--   weekly expiry digest's sections and the calendar feed. Excluded statuses are left out.
--   The renewal flags are worked out over it by renewals.desk.flag_conditions (renewals/expiries.py).
-- Rendered apart for an administrator (see_all: every customer) and for a salesman (the
--   customers he is main or linked salesman of).
-- Parameters: :from_date, :to_date, :excluded (expanding), :employee_id (salesman form)
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
    c.volume_trend AS volume_trend,
    c.last_billed AS last_billed,
    c.cost_per_copy_3m AS cost_per_copy_3m,
    c.cost_per_copy_12m AS cost_per_copy_12m
FROM contract_row c
{%- if not see_all|default(false) %}
JOIN customer_salesman v ON v.customer_id = c.customer_id AND v.employee_id = :employee_id
{%- endif %}
WHERE c.expiry_date >= :from_date
  AND c.expiry_date <= :to_date
  AND c.status NOT IN :excluded
