-- Purpose: the derived contract rows (contract_row): every column a contract grid shows,
--   sorts, filters or searches, worked out once by the sync rather than per request: customer,
--   contract type, site, machines, main salesman, and the search text (the grid's text columns).
--   Months Remaining and the window depend on today and stay in contract_windows.sql.
-- Parameters: :customer_ids (expanding) only when rendered scoped (incremental sync, Refresh)
-- Reads customer_row (derived first) for the customer's names and main salesman.
-- Indexes: contract_item(contract_id)
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
        || COALESCE(ct.description, '') || ' ' || c.status AS search_text
FROM contract c
JOIN customer_row cr ON cr.customer_id = c.customer_id
LEFT JOIN contract_type ct ON ct.contract_type_id = c.contract_type_id
LEFT JOIN site s ON s.site_id = c.site_id
{%- if scoped|default(false) %}
WHERE c.customer_id IN :customer_ids
{%- endif %}
