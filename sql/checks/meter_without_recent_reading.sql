-- Meters of machines on Active contracts in force without a reading in the last two months.
-- Why it matters: unread meters are unbilled copies; the customer gets a large catch-up
--   invoice later, or the dealer loses the revenue. Contracts that started less than two months
--   ago are left out (no reading is due yet), as are contracts past expiry (their own check).
-- Parameters: :today  the local date of the check (settings' today, not the database clock)
--             :since  add_months(today, -2)
-- Indexes relied on: contract_item(contract_id), meter(asset_id),
--   meter_reading(meter_id, reading_date).
SELECT
    c.contract_no AS contract_no,
    cu.account_no AS account_no,
    cu.customer_name AS customer_name,
    a.serial_no AS serial_no,
    m.meter_id AS meter_id,
    m.meter_type AS meter_type,
    (SELECT MAX(lr.reading_date) FROM meter_reading lr WHERE lr.meter_id = m.meter_id) AS last_reading_date
FROM contract c
LEFT JOIN customer cu ON cu.customer_id = c.customer_id
JOIN contract_item ci ON ci.contract_id = c.contract_id
JOIN asset a ON a.asset_id = ci.asset_id
JOIN meter m ON m.asset_id = a.asset_id
WHERE c.status = 'Active'
  AND (c.expiry_date IS NULL OR c.expiry_date >= :today)
  AND c.start_date <= :since
  AND NOT EXISTS (
      SELECT 1 FROM meter_reading r WHERE r.meter_id = m.meter_id AND r.reading_date >= :since
  )
ORDER BY c.contract_no, a.serial_no, m.meter_type
