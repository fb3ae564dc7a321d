// The `query_action` values of Cilium's Cassandra parser, in one table: each action's name, and
// whether it names a table (then `query_table` applies: `keyspace.table`, or the keyspace for
// keyspace actions). Rule validation (rules.ts) and query analysis (query-analysis.ts) both
// read it, so a name is spelled once.

export const enum QueryAction {
  Select = 0,
  Insert,
  Update,
  Delete,
  Use,
  CreateTable,
  DropTable,
  AlterTable,
  TruncateTable,
  CreateKeyspace,
  AlterKeyspace,
  DropKeyspace,
  CreateIndex,
  DropIndex,
  CreateMaterializedView,
  AlterMaterializedView,
  DropMaterializedView,
  CreateRole,
  AlterRole,
  DropRole,
  GrantRole,
  RevokeRole,
  ListRoles,
  GrantPermission,
  RevokePermission,
  ListPermissions,
  CreateUser,
  AlterUser,
  DropUser,
  ListUsers,
  CreateFunction,
  DropFunction,
  CreateAggregate,
  DropAggregate,
  CreateType,
  AlterType,
  DropType,
  CreateTrigger,
  DropTrigger,
  Count, // not an action: the number of actions
}

export const QUERY_ACTION_NAMES: StaticArray<string> = [
  'select',
  'insert',
  'update',
  'delete',
  'use',
  'create-table',
  'drop-table',
  'alter-table',
  'truncate-table',
  'create-keyspace',
  'alter-keyspace',
  'drop-keyspace',
  'create-index',
  'drop-index',
  'create-materialized-view',
  'alter-materialized-view',
  'drop-materialized-view',
  'create-role',
  'alter-role',
  'drop-role',
  'grant-role',
  'revoke-role',
  'list-roles',
  'grant-permission',
  'revoke-permission',
  'list-permissions',
  'create-user',
  'alter-user',
  'drop-user',
  'list-users',
  'create-function',
  'drop-function',
  'create-aggregate',
  'drop-aggregate',
  'create-type',
  'alter-type',
  'drop-type',
  'create-trigger',
  'drop-trigger',
];

// Actions up to DropKeyspace name a table or keyspace; the rest take no `query_table`.
export function actionHasTable(action: i32): bool {
  return action >= 0 && action <= QueryAction.DropKeyspace;
}

export function actionName(action: i32): string {
  return action >= 0 && action < QueryAction.Count ? QUERY_ACTION_NAMES[action] : '';
}

export function actionByName(name: string): i32 {
  for (let i = 0; i < QUERY_ACTION_NAMES.length; i++) if (QUERY_ACTION_NAMES[i] == name) return i;
  return -1;
}
