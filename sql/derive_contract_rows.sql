-- Purpose: the derived contract rows (contract_row): every column a contract grid shows,
--   sorts, filters or searches, worked out once by the sync rather than per request: customer,
--   contract type, site, machines, main salesman, the search text (the grid's text columns),
--   and the last-12-months profitability as of :today (_profitability.sql; recomputed for a new
--   day by update_contract_profitability.sql). Months Remaining and the window depend on today
--   and stay in contract_windows.sql.
-- Parameters: the profitability window (_profitability.sql): :from_12m, :today, :day_after,
--   :recent_from, :this_month, :prior_from; :customer_ids (expanding) only when rendered scoped
--   (incremental sync, Refresh)
-- Reads customer_row (derived first) for the customer's names and main salesman.
-- Indexes: contract_item(contract_id), invoice_line(contract_id, invoice_date), service_call(contract_id)
{% import '_profitability' as profit -%}
{%- set scope = 'IN (SELECT sk.contract_id FROM contract sk WHERE sk.customer_id IN :customer_ids)'
    if scoped|default(false) else '' %}
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
{{ profit.columns('r', 'k') }}
FROM contract c
JOIN customer_row cr ON cr.customer_id = c.customer_id
LEFT JOIN contract_type ct ON ct.contract_type_id = c.contract_type_id
LEFT JOIN site s ON s.site_id = c.site_id
LEFT JOIN {{ profit.revenue(scope) }} r ON r.contract_id = c.contract_id
LEFT JOIN {{ profit.cost(scope) }} k ON k.contract_id = c.contract_id
{%- if scoped|default(false) %}
WHERE c.customer_id IN :customer_ids
{%- endif %}
