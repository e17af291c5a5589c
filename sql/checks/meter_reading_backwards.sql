-- Meter readings lower than the meter's previous reading.
-- Why it matters: the meter line of the next invoice is the reading difference; a reading that
--   goes backwards bills negative copies (or, once corrected, double), and usually means a
--   mistyped reading or a meter swapped without a new meter record.
-- Parameters: none.
-- Indexes relied on: meter_reading(meter_id, reading_date) for the per-meter ordering.
WITH ordered_readings AS (
    SELECT
        r.reading_id AS reading_id,
        r.meter_id AS meter_id,
        r.reading_date AS reading_date,
        r.reading AS reading,
        LAG(r.reading_date) OVER (PARTITION BY r.meter_id ORDER BY r.reading_date, r.reading_id) AS previous_date,
        LAG(r.reading) OVER (PARTITION BY r.meter_id ORDER BY r.reading_date, r.reading_id) AS previous_reading
    FROM meter_reading r
)
SELECT
    a.serial_no AS serial_no,
    m.meter_id AS meter_id,
    m.meter_type AS meter_type,
    o.previous_date AS previous_date,
    o.previous_reading AS previous_reading,
    o.reading_date AS reading_date,
    o.reading AS reading,
    o.reading_id AS reading_id
FROM ordered_readings o
JOIN meter m ON m.meter_id = o.meter_id
LEFT JOIN asset a ON a.asset_id = m.asset_id
WHERE o.reading < o.previous_reading
ORDER BY a.serial_no, m.meter_type, o.reading_date
