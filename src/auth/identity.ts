/** Who is calling; filled by the auth stage (org/team/key). */
export interface Identity {
  keyId: string;
  teamId?: string;
  orgId?: string;
  endUser?: string;
}
