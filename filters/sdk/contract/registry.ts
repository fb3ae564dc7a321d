// Which parser this module runs. A module holds exactly one parser; its entry file
// (filters/parsers/<name>/index.ts) hands the factory over with useParser() as its only
// top-level statement, and the ABI exports look it up here.
import { ParserFactory } from './parser';

let activeFactory: ParserFactory | null = null;

export function useParser(factory: ParserFactory): void {
  activeFactory = factory;
}

export function parserFactory(): ParserFactory | null {
  return activeFactory;
}
