export { Users, AccountError, normalizeAlias, DEFAULT_LOGIN_LIMITS } from './users.ts';
export type { OwnedSenders, LoginLimits, LoginOutcome } from './users.ts';
export { LoginBudget, networkOf, delayAfter, waitText } from './login-budget.ts';
export type { BudgetPolicy, Refusal, Reservation } from './login-budget.ts';
