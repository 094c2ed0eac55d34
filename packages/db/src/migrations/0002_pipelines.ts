import { sql, type Kysely } from 'kysely';

/**
 * Pipelines and everything they own: jobs, resources, resource types, versions, and the links between
 * builds and versions that the scheduler reads and writes. Mirrors Concourse's schema (atc/db/migration)
 * where it matters to behaviour; see schema.ts for each column's meaning and who writes it.
 *
 * Lifecycle in one paragraph: `PUT P/config` upserts the pipeline row, then the jobs, resources and
 * resource types named in the config (matched by name, `old_name` renames); rows that are no longer in the
 * config stay with `active = false` so their builds and versions survive a later re-add. Archiving clears
 * every `config` column (and the pipeline's config version), destroying deletes the pipeline and, through
 * the foreign keys, everything below it, builds included.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const run = (statement: ReturnType<typeof sql>) => statement.execute(db);

  // Config versions come from one global sequence, bumped on every save (X-Concourse-Config-Version).
  await run(sql`create sequence config_version_seq`);

  await run(sql`
    create table pipelines (
      id serial primary key,
      team_id integer not null references teams (id) on delete cascade,
      name text not null,
      instance_vars jsonb,
      config jsonb,
      version bigint not null default 0,
      groups jsonb,
      display jsonb,
      user_data jsonb,
      paused boolean not null default false,
      paused_by text,
      paused_at timestamptz,
      public boolean not null default false,
      archived boolean not null default false,
      ordering integer not null default 0,
      secondary_ordering integer not null default 1,
      parent_job_id integer,
      parent_build_id integer references builds (id) on delete set null,
      last_updated timestamptz not null default now(),
      created_at timestamptz not null default now()
    )`);
  // Identity is (team, name, instance vars); jsonb equality ignores key order, 'null' stands for "none".
  await run(sql`
    create unique index pipelines_identity
      on pipelines (team_id, name, coalesce(instance_vars, 'null'::jsonb))`);
  await run(sql`create index pipelines_team_ordering on pipelines (team_id, ordering, secondary_ordering)`);

  await run(sql`
    create table jobs (
      id serial primary key,
      pipeline_id integer not null references pipelines (id) on delete cascade,
      name text not null,
      config jsonb,
      active boolean not null default true,
      paused boolean not null default false,
      paused_by text,
      paused_at timestamptz,
      public boolean not null default false,
      max_in_flight integer not null default 0,
      disable_manual_trigger boolean not null default false,
      disable_reruns boolean not null default false,
      interruptible boolean not null default false,
      groups text[] not null default '{}',
      has_new_inputs boolean not null default false,
      inputs_determined boolean not null default false,
      next_build_number integer not null default 1,
      first_logged_build_id integer not null default 0,
      schedule_requested timestamptz not null default now(),
      last_scheduled timestamptz not null default 'epoch',
      unique (pipeline_id, name)
    )`);
  // The scheduler's work queue: jobs whose schedule was requested after they were last scheduled.
  await run(sql`create index jobs_schedule_requested on jobs (schedule_requested) where active`);
  await run(sql`
    alter table pipelines
      add constraint pipelines_parent_job_id_fkey foreign key (parent_job_id) references jobs (id) on delete set null`);

  await run(sql`
    create table job_serial_groups (
      job_id integer not null references jobs (id) on delete cascade,
      serial_group text not null,
      primary key (job_id, serial_group)
    )`);
  await run(sql`create index job_serial_groups_serial_group on job_serial_groups (serial_group)`);

  // Resource configs: what a check runs against (type + interpolated source), shared by identical resources.
  await run(sql`
    create table resource_configs (
      id serial primary key,
      type_key text not null,
      source_hash text not null,
      created_at timestamptz not null default now(),
      last_referenced timestamptz not null default now(),
      unique (type_key, source_hash)
    )`);

  await run(sql`
    create table resources (
      id serial primary key,
      pipeline_id integer not null references pipelines (id) on delete cascade,
      name text not null,
      type text not null,
      config jsonb,
      active boolean not null default true,
      public boolean not null default false,
      check_every text,
      webhook_token text,
      resource_config_id integer references resource_configs (id) on delete set null,
      resource_config_scope_id integer,
      pinned_version jsonb,
      pinned_in_config boolean not null default false,
      pin_comment text not null default '',
      last_check_build_id integer references builds (id) on delete set null,
      check_error text,
      unique (pipeline_id, name)
    )`);

  await run(sql`
    create table resource_types (
      id serial primary key,
      pipeline_id integer not null references pipelines (id) on delete cascade,
      name text not null,
      type text not null,
      config jsonb,
      active boolean not null default true,
      resource_config_id integer references resource_configs (id) on delete set null,
      resource_config_scope_id integer,
      last_check_build_id integer references builds (id) on delete set null,
      check_error text,
      unique (pipeline_id, name)
    )`);

  // Where versions live: one scope per (config, resource), or per config when shared (resource_id null).
  await run(sql`
    create table resource_config_scopes (
      id serial primary key,
      resource_config_id integer not null references resource_configs (id) on delete cascade,
      resource_id integer references resources (id) on delete cascade,
      last_check_start_time timestamptz,
      last_check_end_time timestamptz,
      last_check_succeeded boolean,
      next_check_time timestamptz
    )`);
  await run(sql`
    create unique index resource_config_scopes_per_resource
      on resource_config_scopes (resource_config_id, resource_id) where resource_id is not null`);
  await run(sql`
    create unique index resource_config_scopes_shared
      on resource_config_scopes (resource_config_id) where resource_id is null`);
  await run(sql`
    alter table resources
      add constraint resources_resource_config_scope_id_fkey
      foreign key (resource_config_scope_id) references resource_config_scopes (id) on delete set null`);
  await run(sql`
    alter table resource_types
      add constraint resource_types_resource_config_scope_id_fkey
      foreign key (resource_config_scope_id) references resource_config_scopes (id) on delete set null`);

  await run(sql`
    create table resource_config_versions (
      id serial primary key,
      resource_config_scope_id integer not null references resource_config_scopes (id) on delete cascade,
      version jsonb not null,
      version_sha256 text not null,
      metadata jsonb,
      check_order bigint not null default 0,
      created_at timestamptz not null default now(),
      unique (resource_config_scope_id, version_sha256)
    )`);
  // "Latest" is the highest check_order of a scope: every version list and input resolution walks this.
  await run(sql`
    create index resource_config_versions_scope_check_order
      on resource_config_versions (resource_config_scope_id, check_order desc)`);

  await run(sql`
    create table resource_disabled_versions (
      resource_id integer not null references resources (id) on delete cascade,
      version_sha256 text not null,
      primary key (resource_id, version_sha256)
    )`);

  // A job's inputs and outputs as its config declares them, one row per passed job (Concourse's job_inputs).
  await run(sql`
    create table job_inputs (
      id serial primary key,
      job_id integer not null references jobs (id) on delete cascade,
      name text not null,
      resource_id integer not null references resources (id) on delete cascade,
      passed_job_id integer references jobs (id) on delete cascade,
      trigger boolean not null default false,
      version jsonb
    )`);
  await run(sql`create index job_inputs_job_id on job_inputs (job_id)`);
  await run(sql`create index job_inputs_resource_id on job_inputs (resource_id)`);
  await run(sql`create index job_inputs_passed_job_id on job_inputs (passed_job_id)`);
  await run(sql`
    create table job_outputs (
      id serial primary key,
      job_id integer not null references jobs (id) on delete cascade,
      name text not null,
      resource_id integer not null references resources (id) on delete cascade
    )`);
  await run(sql`create index job_outputs_job_id on job_outputs (job_id)`);
  await run(sql`create index job_outputs_resource_id on job_outputs (resource_id)`);

  // Builds of jobs and checks: the owning objects, and facts the scheduler keeps about them.
  await run(sql`
    alter table builds
      add constraint builds_pipeline_id_fkey foreign key (pipeline_id) references pipelines (id) on delete cascade,
      add constraint builds_job_id_fkey foreign key (job_id) references jobs (id) on delete cascade,
      add column resource_id integer references resources (id) on delete cascade,
      add column resource_type_id integer references resource_types (id) on delete cascade,
      add column manually_triggered boolean not null default false,
      add column inputs_ready boolean not null default false`);
  await run(sql`create index builds_job_id_id on builds (job_id, id desc) where job_id is not null`);
  await run(sql`create unique index builds_job_id_name on builds (job_id, name) where job_id is not null`);
  await run(
    sql`create index builds_pipeline_id_id on builds (pipeline_id, id desc) where pipeline_id is not null`,
  );
  await run(sql`create index builds_resource_id on builds (resource_id) where resource_id is not null`);
  await run(
    sql`create index builds_resource_type_id on builds (resource_type_id) where resource_type_id is not null`,
  );
  await run(sql`create index builds_rerun_of on builds (rerun_of) where rerun_of is not null`);

  await run(sql`
    create table build_resource_config_version_inputs (
      build_id integer not null references builds (id) on delete cascade,
      resource_id integer not null references resources (id) on delete cascade,
      version_sha256 text not null,
      name text not null,
      first_occurrence boolean not null default false,
      primary key (build_id, resource_id, version_sha256, name)
    )`);
  await run(sql`
    create index build_inputs_resource_version
      on build_resource_config_version_inputs (resource_id, version_sha256)`);
  await run(sql`
    create table build_resource_config_version_outputs (
      build_id integer not null references builds (id) on delete cascade,
      resource_id integer not null references resources (id) on delete cascade,
      version_sha256 text not null,
      name text not null,
      primary key (build_id, resource_id, version_sha256, name)
    )`);
  await run(sql`
    create index build_outputs_resource_version
      on build_resource_config_version_outputs (resource_id, version_sha256)`);

  // The scheduler's latest answer to "what would this job's next build get" (GET P/jobs/:job/inputs).
  await run(sql`
    create table next_build_inputs (
      job_id integer not null references jobs (id) on delete cascade,
      input_name text not null,
      resource_id integer references resources (id) on delete cascade,
      version_sha256 text,
      first_occurrence boolean,
      resolve_error text,
      primary key (job_id, input_name)
    )`);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const run = (statement: ReturnType<typeof sql>) => statement.execute(db);
  for (const table of [
    'next_build_inputs',
    'build_resource_config_version_outputs',
    'build_resource_config_version_inputs',
    'job_outputs',
    'job_inputs',
    'resource_disabled_versions',
    'resource_config_versions',
  ]) {
    await run(sql`drop table if exists ${sql.table(table)}`);
  }
  await run(sql`
    alter table builds
      drop constraint if exists builds_pipeline_id_fkey,
      drop constraint if exists builds_job_id_fkey,
      drop column if exists resource_id,
      drop column if exists resource_type_id,
      drop column if exists manually_triggered,
      drop column if exists inputs_ready`);
  await run(sql`drop index if exists builds_job_id_id`);
  await run(sql`drop index if exists builds_job_id_name`);
  await run(sql`drop index if exists builds_pipeline_id_id`);
  await run(sql`drop index if exists builds_rerun_of`);
  for (const table of [
    'resource_types',
    'resources',
    'resource_config_scopes',
    'resource_configs',
    'job_serial_groups',
  ]) {
    await run(sql`drop table if exists ${sql.table(table)} cascade`);
  }
  await run(sql`alter table pipelines drop constraint if exists pipelines_parent_job_id_fkey`);
  await run(sql`drop table if exists jobs cascade`);
  await run(sql`drop table if exists pipelines cascade`);
  await run(sql`drop sequence if exists config_version_seq`);
}
