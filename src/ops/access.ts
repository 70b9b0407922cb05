// Who may scrape /metrics without signing in: the cluster setting `metrics.scrape_from`, a list of
// addresses and CIDR blocks ("10.0.0.0/8", "127.0.0.1", "::1"). Unset or empty: nobody (administrators
// always may, with an API key or a session).
import { BlockList, isIP } from 'node:net';
import { InputError } from '../errors.js';

export const SCRAPE_SETTING = 'metrics.scrape_from';

/** Parses the setting's value; throws an InputError naming each entry that is not an address or a block. */
export function parseScrapeFrom(value: unknown): BlockList {
  const list = new BlockList();
  if (value === undefined || value === null) return list;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InputError(`${SCRAPE_SETTING} must be a list of addresses or CIDR blocks, such as ["10.0.0.0/8", "127.0.0.1"].`);
  }
  const bad: string[] = [];
  for (const raw of value as string[]) {
    const entry = raw.trim();
    const slash = entry.indexOf('/');
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(address);
    if (!family) { bad.push(raw); continue; }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) { list.addAddress(address, type); continue; }
    const bits = entry.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!(prefix >= 0 && prefix <= (family === 4 ? 32 : 128))) { bad.push(raw); continue; }
    list.addSubnet(address, prefix, type);
  }
  if (bad.length) throw new InputError(`${SCRAPE_SETTING}: ${bad.map((b) => `"${b}"`).join(', ')} ${bad.length > 1 ? 'are' : 'is'} not an address or a CIDR block (such as 10.0.0.0/8 or ::1).`);
  return list;
}

/** Whether a peer address (as the socket gives it, IPv4-mapped IPv6 included) is in the list. */
export function scrapeAllowed(list: BlockList, address: string | undefined): boolean {
  if (!address) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return list.check(mapped[1]!, 'ipv4') || list.check(address, 'ipv6');
  const family = isIP(address);
  if (!family) return false;
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
