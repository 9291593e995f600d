import type { FastifyInstance, FastifyRequest } from 'fastify';
import { negotiateLocale } from './negotiate.ts';
import { translator, type SiteBrand, type Translator } from './translator.ts';

/*
 * The language of a request, decided once (negotiate.ts) and kept with the request. A `?lang=`
 * choice is remembered in a `__Host-` cookie for a year, so the next page (and the next visit
 * from the notice link) stays in the chosen language. SameSite=Lax, unlike the session cookies:
 * it decides nothing but the language, and opening the notice link from a mail client is a
 * cross-site navigation that should still find it.
 */

export const LANG_COOKIE = '__Host-sg-lang';
const YEAR_S = 365 * 86_400;

const translators = new WeakMap<FastifyRequest, Translator>();
const sites = new WeakMap<object, SiteBrand>();

function decide(request: FastifyRequest, site: SiteBrand = sites.get(request.server) ?? {}): { translator: Translator; remember?: string } {
  try {
    const query = (request.query as Record<string, unknown> | undefined)?.lang;
    const choice = negotiateLocale({ query, cookie: request.cookies?.[LANG_COOKIE], acceptLanguage: request.headers['accept-language'] });
    // Language links lead to this page again when it can be fetched (a GET); after a POST, to the start page.
    // Only a routed page: a 404 or framework error must not echo the URL it refused.
    const routed = !!request.routeOptions?.url && !request.is404;
    const path = routed && (request.method === 'GET' || request.method === 'HEAD') ? request.url : '/';
    return { translator: translator(choice.locale, path, site), remember: choice.remember };
  } catch {
    // A request the framework refused (a URL that does not parse) still gets its error page: in English.
    return { translator: translator(undefined, '/', site) };
  }
}

/** The translator of this request (English for a request the hook did not see). */
export function i18n(request: FastifyRequest): Translator {
  let found = translators.get(request);
  if (!found) {
    found = decide(request).translator;
    translators.set(request, found);
  }
  return found;
}

/** The organisation for requests no scope hook saw (framework errors on the root app). */
export function rememberSite(app: FastifyInstance, site: SiteBrand): void {
  sites.set(app, site);
}

/** Decides each request's language before its route runs and remembers an explicit choice; `site` is the organisation every page shows. */
export function installLocale(app: FastifyInstance, site: SiteBrand = {}): void {
  rememberSite(app, site);
  app.addHook('onRequest', async (request, reply) => {
    const decided = decide(request, site);
    translators.set(request, decided.translator);
    if (decided.remember) reply.setCookie(LANG_COOKIE, decided.remember, { path: '/', secure: true, httpOnly: true, sameSite: 'lax', maxAge: YEAR_S });
    reply.header('vary', 'accept-language, cookie');
  });
}
