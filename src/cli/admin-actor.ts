import { userInfo } from 'node:os';

/** Who an admin change from the command line is by: the login behind sudo, else the OS user. */
export function adminActor(): string {
  let name = process.env.SUDO_USER;
  if (!name) {
    try {
      name = userInfo().username;
    } catch {
      name = `uid ${process.getuid?.() ?? '?'}`;
    }
  }
  return `admin:${name}`;
}
