-- Purpose: the contacts listed on the Customer Dashboard.
-- Parameters: :customer_id
-- Indexes: customer_contact(customer_id)
SELECT contact_id, name, tel, cell, email
FROM customer_contact
WHERE customer_id = :customer_id
ORDER BY name, contact_id
