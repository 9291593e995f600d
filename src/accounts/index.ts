export { Users, AccountError, normalizeAlias, DEFAULT_LOGIN_LIMITS } from './users.ts';
export type { AccountOptions, ForbiddenReason, LoginProtocol, OwnedSenders, LoginLimits, LoginOutcome } from './users.ts';
export { ROLES, isRole, type Role } from './roles.ts';
export type { AppPasswordInfo } from './app-passwords.ts';
export type { Enrolment } from './second-factor.ts';
export { checkNewPassword } from './password-policy.ts';
export { LoginBudget, networkOf, delayAfter, waitText } from './login-budget.ts';
export type { BudgetPolicy, Refusal, Reservation } from './login-budget.ts';
