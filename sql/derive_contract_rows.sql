-- Purpose: the derived contract rows (contract_row): every column a contract grid shows,
--   sorts, filters or searches, worked out once by the sync rather than per request: customer,
--   contract type, site, machines, main salesman, the search text (the grid's text columns),
--   and the last-12-months profitability as of :today (_profitability.sql; recomputed for a new
--   day by update_contract_profitability.sql). Months Remaining and the window depend on today
--   and stay in contract_windows.sql.
-- Scoped (incremental sync, Refresh): only the contracts listed in the temporary table
--   touched_contract, and without their profitability (zero / none here): a contract's figures
--   read only its own invoice lines and calls, so the sync computes them again only for the
--   contracts whose lines or calls changed, and for new rows (update_contract_profitability.sql).
-- Parameters: the profitability window (_profitability.sql) when not scoped: :from_12m, :today,
--   :day_after, :recent_from, :this_month, :prior_from
-- Reads customer_row (derived first) for the customer's names and main salesman.
-- Indexes: contract_item(contract_id), invoice_line(contract_id, invoice_date), service_call(contract_id)
{% import '_profitability' as profit -%}
{%- set scoped = scoped|default(false) %}
SELECT
    c.contract_id,
    c.contract_no,
    c.customer_id,
    cr.account_no,
    cr.customer_name,
    c.contract_type_id,
    ct.description AS contract_type,
    c.status,
    c.site_id,
    s.site_name,
    c.start_date,
    c.expiry_date,
    (SELECT COUNT(*) FROM contract_item ci WHERE ci.contract_id = c.contract_id) AS machines,
    cr.main_salesman,
    c.contract_no || ' ' || cr.account_no || ' ' || cr.customer_name || ' '
        || COALESCE(ct.description, '') || ' ' || c.status AS search_text,
{%- if scoped %}
    0 AS revenue_12m, 0 AS cost_12m, 0 AS gross_profit_12m, CAST(NULL AS NUMERIC(18, 1)) AS margin_12m,
    0 AS volume_12m, CAST(NULL AS NUMERIC(18, 4)) AS cost_per_copy_12m,
    CAST(NULL AS NUMERIC(18, 1)) AS volume_trend, CAST(NULL AS DATE) AS last_billed,
    CAST(NULL AS NUMERIC(18, 4)) AS cost_per_copy_3m
{%- else %}
{{ profit.columns('r', 'k') }}
{%- endif %}
FROM contract c
JOIN customer_row cr ON cr.customer_id = c.customer_id
LEFT JOIN contract_type ct ON ct.contract_type_id = c.contract_type_id
LEFT JOIN site s ON s.site_id = c.site_id
{%- if scoped %}
WHERE c.contract_id IN (SELECT t.contract_id FROM touched_contract t)
{%- else %}
LEFT JOIN {{ profit.revenue() }} r ON r.contract_id = c.contract_id
LEFT JOIN {{ profit.cost() }} k ON k.contract_id = c.contract_id
{%- endif %}
