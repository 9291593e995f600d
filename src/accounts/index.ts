export { Users, AccountError } from './users.ts';
