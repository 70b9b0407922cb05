
/** Octopus collection shape. */
export function collection<T>(itemType: string, items: T[], skip: number, take: number, total: number, base: string): object {
  // take=0 asks for the count alone: one (empty) page.
  const pages = take > 0 ? Math.max(1, Math.ceil(total / take)) : 1;
  return {
    ItemType: itemType,
    TotalResults: total,
    ItemsPerPage: take,
    NumberOfPages: pages,
    LastPageNumber: pages - 1,
    Items: items,
    Links: { Self: `${base}?skip=${skip}&take=${take}`, 'Page.All': `${base}/all`, 'Page.Current': `${base}?skip=${skip}&take=${take}`, 'Page.Last': `${base}?skip=${(pages - 1) * take}&take=${take}` },
  };
}

/** The nodes API's documents (built where the CLI's `nodes --format json` builds them too). */
export { nodeDocument as nodeResource, nodeSummary as nodeSummaryResource } from '../storage/report.js';
