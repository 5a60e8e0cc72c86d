/** Unit conversions to the canonical units. Pure and tiny on purpose: tests pin each one. */

export const kmhToMs = (kmh: number): number => kmh / 3.6;
export const kelvinToCelsius = (k: number): number => k - 273.15;
export const fahrenheitToCelsius = (f: number): number => ((f - 32) * 5) / 9;
export const mphToMs = (mph: number): number => mph * 0.44704;
export const inchesToMm = (inches: number): number => inches * 25.4;

/** Rounds to a fixed number of decimals so replays give byte-identical values. */
export const round = (value: number, decimals = 2): number => {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
};
