import t from 'tap';
import { ProviderMatcher } from '../../lib/core/providers';
import { BUILTIN_PROVIDERS } from '../../lib/config/builtin-providers';

const shipped = new ProviderMatcher(Object.entries(BUILTIN_PROVIDERS).map(([name, p]) => ({ name, mxSuffixes: p.mx })));

t.test('shipped providers match their MX hosts on label boundaries', async (t) => {
  const table: Array<[string, string | undefined]> = [
    ['contoso-com.mail.protection.outlook.com', 'microsoft365'],
    ['CONTOSO-COM.MAIL.PROTECTION.OUTLOOK.COM.', 'microsoft365'],
    ['contoso-com.o-v1.mx.microsoft', 'microsoft365'],
    ['hotmail-com.olc.protection.outlook.com', 'outlook'],
    ['aspmx.l.google.com', 'google'],
    ['alt1.gmail-smtp-in.l.google.com', 'google'],
    ['mx1.smtp.goog', 'google'],
    ['mta5.am0.yahoodns.net', 'yahoo'],
    ['mx01.mail.icloud.com', 'apple'],
    ['mx1.comcast.net', 'comcast'],
    ['mx00.gmx.net', 'gmx'],
    ['mx-ha03.web.de', 'gmx'],
    ['smtp-in.orange.fr', 'orange'],
    // look-alikes that must not match
    ['x.mail.protection.outlook.com.evil.test', undefined],
    ['evilgoogle.com', undefined],
    ['google.com.evil.test', undefined],
    ['notyahoodns.net', undefined],
    ['mail.protection.outlook.co', undefined],
    ['microsoft', undefined],
    ['webde.example', undefined],
  ];
  for (const [host, want] of table) t.equal(shipped.matchHost(host), want, host);
});

t.test('the longest suffix wins, so operators can carve out a tenant', async (t) => {
  const m = new ProviderMatcher([
    { name: 'microsoft365', mxSuffixes: ['mail.protection.outlook.com'] },
    { name: 'bigcustomer', mxSuffixes: ['bigcustomer-com.mail.protection.outlook.com'] },
  ]);
  t.equal(m.matchHost('bigcustomer-com.mail.protection.outlook.com'), 'bigcustomer');
  t.equal(m.matchHost('other.mail.protection.outlook.com'), 'microsoft365');
});

t.test('unknown destinations are keyed by their MX host set', async (t) => {
  t.equal(shipped.match(['mx2.example.net', 'MX1.example.net.']), 'mx:mx1.example.net,mx2.example.net');
  t.equal(
    shipped.match(['mx1.example.net', 'mx2.example.net']),
    shipped.match(['mx2.example.net', 'mx1.example.net']),
    'order does not matter',
  );
  t.equal(shipped.match(['backup.example.org', 'aspmx.l.google.com']), 'google', 'any known host decides');
});
