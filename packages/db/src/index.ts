// @jetbridge/db: PostgreSQL schema, migrations, embedded server and queries.
export {};
