// ECharts ships its locales as UMD files without types: each exports the locale's sections
// (time, legend, toolbox, series, aria), which `echarts.registerLocale` takes as one object.
declare module "echarts/i18n/langDE-obj.js" {
  type Locale = Parameters<typeof import("echarts/core").registerLocale>[1];
  export const time: Locale["time"];
  export const legend: Locale["legend"];
  export const toolbox: Locale["toolbox"];
  export const series: Locale["series"];
  export const aria: Locale["aria"];
}
