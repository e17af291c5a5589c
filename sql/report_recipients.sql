-- Report Viewer and Emailer: the contacts of a customer that have an email address, offered as
-- recipients of the report (the customer's own email comes with report_contract.sql).
-- Parameters: :customer_id
-- Indexes relied on: customer_contact(customer_id).
SELECT cc.contact_id, cc.name, cc.email
FROM customer_contact cc
WHERE cc.customer_id = :customer_id AND cc.email IS NOT NULL AND cc.email <> ''
ORDER BY cc.contact_id
