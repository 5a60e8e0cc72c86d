/**
 * The simulator's weather: a pure function of (latitude, longitude, instant), so the same clock gives
 * byte-identical responses. Not a forecast model — just plausible, internally consistent numbers:
 *
 * - temperature = annual mean by latitude + seasonal wave (peaks mid-July north, mid-January south,
 *   amplitude grows with latitude) + diurnal wave by LOCAL SOLAR time (peak 15:00, damped by clouds)
 *   + a slow synoptic wave;
 * - a "storminess" wave per site drives clouds, humidity, low pressure, wind and precipitation together;
 * - feels-like is the Australian apparent temperature (humidity and wind), the weather code follows
 *   precipitation / fog / cloud cover, snow below 0 °C;
 * - precipitation AMOUNTS are sums over a window ending at an instant ({@link precipitationMm}): the rate
 *   integrated over 5-minute cells aligned to UTC, so an hour's sum equals its four quarter-hours' sums;
 * - the "reanalysis" variant (Open-Meteo's archive) is the same weather with a small deterministic
 *   per-(site, hour) correction: temperature within ±0.3 °C, pressure within ±0.5 hPa.
 */

const DAY_MS = 86_400_000;
const TAU = 2 * Math.PI;
const RAD = Math.PI / 180;

export interface SimulatedWeather {
  temperatureC: number;
  apparentC: number;
  humidityPct: number;
  pressureHpa: number;
  windMs: number;
  gustMs: number;
  windDirectionDeg: number;
  cloudPct: number;
  /** Precipitation rate, mm per hour (0 when dry). */
  precipMmPerHour: number;
  wmoCode: number;
  isDay: boolean;
  elevationM: number;
}

/** A stable pseudo-random number in [0, 1) for a site and a salt: FNV-1a over the rounded coordinates, then mixed. */
export function siteNoise(lat: number, lon: number, salt: number): number {
  return saltedNoise(coordinateHash(lat, lon), salt);
}

function coordinateHash(lat: number, lon: number): number {
  let h = 0x811c9dc5;
  const text = `${Math.round(lat * 1e4)}:${Math.round(lon * 1e4)}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

/** murmur3's finalizer over hash ⊕ salt: cheap, and neighbouring salts give unrelated numbers. */
function saltedNoise(hash: number, salt: number): number {
  let h = hash ^ Math.imul(salt, 0x9e3779b9);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Day of year (fractional, 0-based) of a UTC instant. */
function dayOfYear(at: Date): number {
  const start = Date.UTC(at.getUTCFullYear(), 0, 1);
  return (at.getTime() - start) / DAY_MS;
}

/** Solar declination in radians (Cooper's approximation). */
function declination(doy: number): number {
  return 23.44 * RAD * Math.sin((TAU * (284 + doy)) / 365);
}

/** Local solar time in hours [0, 24). */
export function solarHour(lon: number, at: Date): number {
  const utcHours = (at.getTime() % DAY_MS) / 3_600_000;
  return (((utcHours + lon / 15) % 24) + 24) % 24;
}

/** The storminess index in about [-1, 1] that drives clouds, wind and precipitation. */
function stormAt(hash: number, t: number): number {
  return (
    0.7 * Math.sin(TAU * (t / 4.3 + saltedNoise(hash, 1))) +
    0.3 * Math.sin(TAU * (t / 1.7 + saltedNoise(hash, 2)))
  );
}

const precipRate = (storm: number) => (storm > 0.55 ? (storm - 0.55) * 8 : 0);

const PRECIP_CELL_MS = 300_000;

/**
 * Precipitation in mm that fell in the `minutes` before `end`: the rate at the midpoint of each 5-minute
 * cell (cells aligned to UTC) times 5 minutes. `minutes` should be a multiple of 5 and `end` aligned.
 */
export function precipitationMm(lat: number, lon: number, end: Date, minutes: number): number {
  const hash = coordinateHash(lat, lon);
  const cells = Math.round(minutes / 5);
  const last = Math.floor(end.getTime() / PRECIP_CELL_MS) * PRECIP_CELL_MS;
  let sum = 0;
  for (let i = 0; i < cells; i++) {
    const mid = last - i * PRECIP_CELL_MS - PRECIP_CELL_MS / 2;
    sum += precipRate(stormAt(hash, mid / DAY_MS));
  }
  return (sum * PRECIP_CELL_MS) / 3_600_000;
}

/** The archive's deterministic per-(site, hour) correction in [-0.5, 0.5); 0 for the forecast variant. */
function correction(hash: number, salt: number, hourIndex: number, reanalysis: boolean): number {
  return reanalysis ? saltedNoise(hash, salt * 1_000_003 + hourIndex) - 0.5 : 0;
}

/**
 * The weather at one place and instant. `variant: "reanalysis"` adds the archive's small deterministic
 * correction (see the module header).
 */
export function weatherAt(
  lat: number,
  lon: number,
  at: Date,
  variant: "forecast" | "reanalysis" = "forecast",
): SimulatedWeather {
  const t = at.getTime() / DAY_MS;
  const doy = dayOfYear(at);
  const phi = lat * RAD;
  const hash = coordinateHash(lat, lon);
  // No closures here: the history endpoints call this ~17,000 times per request, and tsx (keepNames)
  // wraps every closure creation in a naming call that cost a third of a request's time.
  const hourIndex = Math.floor(at.getTime() / 3_600_000);
  const reanalysis = variant === "reanalysis";

  const storm = stormAt(hash, t);
  const cloudPct = Math.round(clamp(50 + 55 * storm, 0, 100));

  const annualMean = 32 * Math.cos(phi) - 6;
  const peakDay = lat >= 0 ? 200 : 17;
  const seasonal =
    0.18 * Math.abs(lat) * (0.8 + 0.4 * saltedNoise(hash, 3)) * Math.cos((TAU * (doy - peakDay)) / 365.25);
  const diurnalAmp = (3 + 3 * saltedNoise(hash, 4)) * (1 - (0.5 * cloudPct) / 100);
  const diurnalShape = Math.cos((TAU * (solarHour(lon, at) - 15)) / 24);
  const synoptic = 2.5 * Math.sin(TAU * (t / 6.1 + saltedNoise(hash, 5)));
  const temperatureC =
    annualMean +
    seasonal +
    diurnalAmp * diurnalShape +
    synoptic +
    0.6 * correction(hash, 11, hourIndex, reanalysis);

  const humidityPct = Math.round(clamp(65 + 25 * storm - 6 * diurnalShape, 12, 100));
  const pressureHpa =
    1013 -
    18 * storm +
    3 * Math.cos(TAU * (t / 2.9 + saltedNoise(hash, 6))) +
    correction(hash, 12, hourIndex, reanalysis);
  const windMs = 2 + 6 * Math.max(0, storm) + 1.2 * Math.max(0, diurnalShape) + 1.5 * saltedNoise(hash, 7);
  const gustMs = windMs * 1.45 + 0.8;
  const windDirectionDeg = Math.round(
    (((360 * saltedNoise(hash, 8) + 60 * Math.sin(TAU * (t / 4.3))) % 360) + 360) % 360,
  );
  const precipMmPerHour = precipRate(storm);

  const vapourHpa = (humidityPct / 100) * 6.105 * Math.exp((17.27 * temperatureC) / (237.7 + temperatureC));
  const apparentC = temperatureC + 0.33 * vapourHpa - 0.7 * windMs - 4;

  const hourAngle = (solarHour(lon, at) - 12) * 15 * RAD;
  const decl = declination(doy);
  const sunHeight = Math.sin(phi) * Math.sin(decl) + Math.cos(phi) * Math.cos(decl) * Math.cos(hourAngle);

  return {
    temperatureC,
    apparentC,
    humidityPct,
    pressureHpa,
    windMs,
    gustMs,
    windDirectionDeg,
    cloudPct,
    precipMmPerHour,
    wmoCode: wmoCode(temperatureC, precipMmPerHour, storm, humidityPct, windMs, cloudPct),
    isDay: sunHeight > 0,
    elevationM: Math.round(400 * saltedNoise(hash, 9)),
  };
}

function wmoCode(t: number, precip: number, storm: number, rh: number, wind: number, cloud: number): number {
  if (precip > 0) {
    if (t <= 0) return precip < 0.5 ? 71 : precip < 1.5 ? 73 : 75;
    if (storm > 0.9 && t > 18) return 95;
    return precip < 0.5 ? 61 : precip < 1.5 ? 63 : 65;
  }
  if (rh >= 97 && wind < 2.5) return 45;
  if (cloud <= 10) return 0;
  if (cloud <= 40) return 1;
  if (cloud <= 75) return 2;
  return 3;
}

/** OpenWeatherMap's condition for a simulated state: id, group, description, icon. */
export function owmCondition(w: SimulatedWeather): {
  id: number;
  main: string;
  description: string;
  icon: string;
} {
  const dn = w.isDay ? "d" : "n";
  const byWmo: Record<number, [number, string, string, string]> = {
    61: [500, "Rain", "light rain", "10"],
    63: [501, "Rain", "moderate rain", "10"],
    65: [502, "Rain", "heavy intensity rain", "10"],
    71: [600, "Snow", "light snow", "13"],
    73: [601, "Snow", "snow", "13"],
    75: [602, "Snow", "heavy snow", "13"],
    95: [211, "Thunderstorm", "thunderstorm", "11"],
    45: [741, "Fog", "fog", "50"],
  };
  const hit = byWmo[w.wmoCode];
  if (hit) return { id: hit[0], main: hit[1], description: hit[2], icon: `${hit[3]}${dn}` };
  if (w.cloudPct <= 10) return { id: 800, main: "Clear", description: "clear sky", icon: `01${dn}` };
  if (w.cloudPct <= 25) return { id: 801, main: "Clouds", description: "few clouds", icon: `02${dn}` };
  if (w.cloudPct <= 50) return { id: 802, main: "Clouds", description: "scattered clouds", icon: `03${dn}` };
  if (w.cloudPct <= 84) return { id: 803, main: "Clouds", description: "broken clouds", icon: `04${dn}` };
  return { id: 804, main: "Clouds", description: "overcast clouds", icon: `04${dn}` };
}

/** Sunrise and sunset (UTC epoch seconds) on the UTC date of `at`; polar day/night clamp to noon ± 0/12 h. */
export function sunTimes(lat: number, lon: number, at: Date): { sunrise: number; sunset: number } {
  const midnight = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  const decl = declination(dayOfYear(at));
  const cosH = clamp(-Math.tan(lat * RAD) * Math.tan(decl), -1, 1);
  const halfDayHours = (Math.acos(cosH) / Math.PI) * 12;
  const noonMs = midnight + (12 - lon / 15) * 3_600_000;
  return {
    sunrise: Math.round((noonMs - halfDayHours * 3_600_000) / 1000),
    sunset: Math.round((noonMs + halfDayHours * 3_600_000) / 1000),
  };
}
