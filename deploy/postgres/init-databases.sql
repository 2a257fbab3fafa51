-- One database per service, as DESIGN.md says: no service reads another's tables.
CREATE DATABASE welfare_complaints;
CREATE DATABASE welfare_notifications;
CREATE DATABASE welfare_payments;
CREATE DATABASE welfare_transparency;
