DROP TABLE login_failures;
DROP TABLE settings;
DROP TABLE service_token_partners;
DROP TABLE service_tokens;
DROP TABLE user_partners;
DROP TABLE users;
