-- Purpose: the derived customer rows (customer_row): what the Customers grid shows, sorts,
--   filters and searches, worked out once by the sync rather than per request: site, main
--   salesman, contract counts as of :today, and the search text (the grid's text columns).
-- Parameters: :today, :window_end, :excluded (expanding)
-- Scoped (incremental sync and Refresh): only the customers listed in the temporary table
--   touched_customer (derived_rows.Touched), which the sync fills in its write transaction.
-- Indexes: customer_salesman(customer_id, ...) primary key, contract(customer_id, status, expiry_date)
{% import '_contract_counts' as counts -%}
SELECT
    d.customer_id, d.account_no, d.customer_name, d.site_id, d.site_name, d.main_salesman,
    d.tel, d.status, d.active_contracts, d.expiring_contracts,
    d.account_no || ' ' || d.customer_name || ' ' || COALESCE(d.site_name, '') || ' '
        || COALESCE(d.main_salesman, '') || ' ' || COALESCE(d.tel, '') || ' ' || d.status AS search_text
FROM (
    SELECT
        c.customer_id,
        c.account_no,
        c.customer_name,
        c.site_id,
        s.site_name,
        (SELECT MAX(e.full_name)
           FROM customer_salesman ms JOIN employee e ON e.employee_id = ms.employee_id
          WHERE ms.customer_id = c.customer_id AND ms.is_main) AS main_salesman,
        c.tel,
        c.status,
        {{ counts.active('c.customer_id') }} AS active_contracts,
        {{ counts.expiring('c.customer_id') }} AS expiring_contracts
    FROM customer c
    LEFT JOIN site s ON s.site_id = c.site_id
{%- if scoped|default(false) %}
    WHERE c.customer_id IN (SELECT t.customer_id FROM touched_customer t)
{%- endif %}
) d
