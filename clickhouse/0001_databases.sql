-- Databases: market data and tickwatch's own operational data.
CREATE DATABASE IF NOT EXISTS {market};
CREATE DATABASE IF NOT EXISTS {ops};
