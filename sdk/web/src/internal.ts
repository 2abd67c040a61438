// Everything the unit tests reach that the public builds keep private.
export * from "./backoff";
export * from "./batch";
export * from "./queue";
export * from "./storage";
export * from "./uuid";
export * from "./context";
