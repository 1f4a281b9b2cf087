import { join } from 'node:path';
import { withMultiLangProcessor } from '../../lambda';

/**
 * A Go processor written for the Go KCL client (KCL 1.x protocol), shipped as a static
 * binary next to this bundle in the function's zip (see multilang-consumers.ts).
 */
export const handler = withMultiLangProcessor({ command: [join(__dirname, 'kcl-processor')], dialect: 'kcl1' });
