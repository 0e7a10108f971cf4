/** An operator: an ADMIN_EMAILS account that claimed its rights with the operator token. */
export interface OperatorsTable {
  user_id: string;
  claimed_at: string;
}
