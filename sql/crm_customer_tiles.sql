-- Purpose: the Customer Dashboard tiles: contracts active / expiring / expired, files,
--   open cases and open activities of one customer. Expired, expiring, later, open-ended (no
--   expiry date) and excluded (cancelled) contracts together are all of them, so the tile's
--   note adds up.
-- Parameters: :customer_id, :today, :window_end, :excluded (expanding list of statuses)
-- Indexes: contract(customer_id, status, expiry_date), case_attachment(customer_id),
--   crm_case(customer_id), activity(customer_id)
SELECT
    (SELECT COUNT(*) FROM contract k WHERE k.customer_id = :customer_id AND k.status = 'Active'
        AND (k.expiry_date IS NULL OR k.expiry_date >= :today)) AS active_contracts,
    (SELECT COUNT(*) FROM contract k WHERE k.customer_id = :customer_id AND k.status NOT IN :excluded
        AND k.expiry_date >= :today AND k.expiry_date <= :window_end) AS expiring_contracts,
    (SELECT COUNT(*) FROM contract k WHERE k.customer_id = :customer_id AND k.status NOT IN :excluded
        AND k.expiry_date < :today) AS expired_contracts,
    (SELECT COUNT(*) FROM contract k WHERE k.customer_id = :customer_id AND k.status NOT IN :excluded
        AND k.expiry_date > :window_end) AS later_contracts,
    (SELECT COUNT(*) FROM contract k WHERE k.customer_id = :customer_id AND k.status NOT IN :excluded
        AND k.expiry_date IS NULL) AS open_ended_contracts,
    (SELECT COUNT(*) FROM contract k WHERE k.customer_id = :customer_id
        AND k.status IN :excluded) AS excluded_contracts,
    (SELECT COUNT(*) FROM contract k WHERE k.customer_id = :customer_id) AS all_contracts,
    (SELECT COUNT(*) FROM case_attachment a WHERE a.customer_id = :customer_id) AS files,
    (SELECT COUNT(*) FROM crm_case cc WHERE cc.customer_id = :customer_id AND cc.status = 'Open') AS open_cases,
    (SELECT COUNT(*) FROM activity a WHERE a.customer_id = :customer_id
        AND NOT a.completed) AS open_activities
