-- Contract Performance report: how many service calls were logged on one contract, per month and
-- machine, before :day_after (the day after today), with or without cost lines.
-- Parameters: :contract_id, :day_after (datetime, midnight starting the day after today)
-- Indexes relied on: service_call(contract_id).
SELECT {{ year('sc.logged_date') }} AS yr,
       {{ month('sc.logged_date') }} AS mon,
       sc.asset_id,
       COUNT(*) AS calls
FROM service_call sc
WHERE sc.contract_id = :contract_id AND sc.logged_date < :day_after
GROUP BY {{ year('sc.logged_date') }}, {{ month('sc.logged_date') }}, sc.asset_id
