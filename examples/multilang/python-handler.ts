import { withMultiLangProcessor } from '../../lambda';

/**
 * A Python processor written for amazon_kclpy, unchanged, in the container image of
 * python/Dockerfile (the Lambda Node.js runtimes have no python3).
 */
export const handler = withMultiLangProcessor({
  command: ['python3', 'app.py'],
  cwd: process.env.LAMBDA_TASK_ROOT,
  env: { PYTHONPATH: process.env.LAMBDA_TASK_ROOT, PYTHONUNBUFFERED: '1' },
});
