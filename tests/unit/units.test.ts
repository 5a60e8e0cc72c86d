import { describe, expect, it } from "vitest";
import {
  fahrenheitToCelsius,
  inchesToMm,
  kelvinToCelsius,
  kmhToMs,
  mphToMs,
  round,
} from "#core/domain/units.ts";

describe("unit conversions to canonical units", () => {
  it.each([
    ["km/h → m/s", kmhToMs(36), 10],
    ["km/h → m/s (zero)", kmhToMs(0), 0],
    ["K → °C (freezing)", kelvinToCelsius(273.15), 0],
    ["K → °C (OWM docs sample)", kelvinToCelsius(298.48), 25.33],
    ["°F → °C (freezing)", fahrenheitToCelsius(32), 0],
    ["°F → °C (-40 meets)", fahrenheitToCelsius(-40), -40],
    ["°F → °C (boiling)", fahrenheitToCelsius(212), 100],
    ["mph → m/s", mphToMs(10), 4.4704],
    ["inch → mm", inchesToMm(1), 25.4],
  ])("%s", (_label, actual, expected) => {
    // Prepare / Act happen in the table; Assess:
    expect(round(actual, 4)).toBe(expected);
  });

  it("rounds to two decimals by default and removes float noise", () => {
    // Prepare
    const noisy = 298.48 - 273.15; // 25.330000000000013
    // Act
    const rounded = round(noisy);
    // Assess
    expect(noisy).not.toBe(25.33);
    expect(rounded).toBe(25.33);
    expect(JSON.stringify(rounded)).toBe("25.33");
  });

  it("rounds to the requested number of decimals", () => {
    expect(round(1.005 * 1000, 0)).toBe(1005);
    expect(round(2.345, 1)).toBe(2.3);
    expect(round(-1.23456, 3)).toBe(-1.235);
  });
});
