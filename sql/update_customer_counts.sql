-- Purpose: every customer's stored contract counts (customer_row) counted again for :today, by
--   the job after local midnight and by a sync that finds them counted for another day.
-- Parameters: :today, :window_end, :excluded (expanding)
-- Index: contract(customer_id, status, expiry_date)
{% import '_contract_counts' as counts -%}
UPDATE customer_row SET
    active_contracts = {{ counts.active('customer_row.customer_id') }},
    expiring_contracts = {{ counts.expiring('customer_row.customer_id') }}
