import type { InPlaceExporter } from '@fsconv/base';
import type { ExporterRegistry } from '@fsconv/core';
import { fatInPlaceExporter, type FatTarget } from '@fsconv/fat';

/**
 * The formats fsconv wires together, by the names --from and --to take: core knows none of them,
 * it is handed an importer's source and an exporter. Today ext2 (and a directory, and FAT with its
 * rights files) in, the FAT family out.
 */
export const TARGETS: readonly FatTarget[] = ['vfat+rights', 'vfat', 'msdos'];

/**
 * The exporters a journal may name, for resume. The payload holds everything the commit writes, so
 * the user's naming options play no part there. Journals of versions 1 and 2 were all FAT's.
 */
export const RESUMABLE_EXPORTERS: ExporterRegistry = {
  byName: (name): InPlaceExporter | undefined =>
    (TARGETS as readonly string[]).includes(name) ? fatInPlaceExporter({ target: name as FatTarget }) : undefined,
  legacy: fatInPlaceExporter({ target: 'vfat+rights' }),
};
