/**
 * The names of the report formats, on their own so that help text can list them without
 * loading the renderers (`formats/index.ts` checks that each one is a format).
 */
export const FORMAT_NAMES = ['html', 'md', 'csv', 'json', 'gab', 'bmf', 'openmetrics'] as const;
