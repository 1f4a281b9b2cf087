import { withKclProcessor } from '../lambda';
import { createProcessor } from './counting-processor';

/** The Lambda entry point deployed by bin/app.ts. */
export const handler = withKclProcessor(createProcessor);
