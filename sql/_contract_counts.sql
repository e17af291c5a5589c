-- Macros (imported by other SQL files): one customer's contract counts as of :today (SPEC §3).
-- Parameters of the statement importing them: :today, :window_end (add_months(today, W)),
--   :excluded (expanding list of statuses never expired or expiring)
-- Index: contract(customer_id, status, expiry_date), read alone
{% macro active(customer) -%}
(SELECT COUNT(*) FROM contract k
  WHERE k.customer_id = {{ customer }} AND k.status = 'Active'
    AND (k.expiry_date IS NULL OR k.expiry_date >= :today))
{%- endmacro %}
{% macro expiring(customer) -%}
(SELECT COUNT(*) FROM contract k
  WHERE k.customer_id = {{ customer }} AND k.status NOT IN :excluded
    AND k.expiry_date >= :today AND k.expiry_date <= :window_end)
{%- endmacro %}
