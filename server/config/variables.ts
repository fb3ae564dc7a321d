// `${NAME}` and `${NAME:-default}` replaced from the environment, `$$` for a literal `$`: the subset
// of docker-compose's interpolation that weir.yaml takes, so that one file serves a container whose
// ports come from variables (and the compose tests expand compose files the same way).

export interface ExpandedText {
  text: string;
  /** One message per `${NAME}` whose variable is unset or empty and has no default. */
  unset: string[];
}

export function expandVariables(text: string, env: NodeJS.ProcessEnv): ExpandedText {
  const unset: string[] = [];
  const expanded = text.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})/g, (match, escaped: string, name: string | undefined, fallback: string | undefined) => {
    if (escaped === '$' || name === undefined) return '$';
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    unset.push(`\${${name}}: the environment variable ${name} is not set; set it or write \${${name}:-DEFAULT}`);
    return match;
  });
  return { text: expanded, unset };
}
