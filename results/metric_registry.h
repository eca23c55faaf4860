// The one place that says what each metric means: unit, which direction is
// better, and a one-line description. Every table and plot is driven by it
// (through the copies in each record).
#pragma once

#include <string>
#include <vector>

#include "results/record.h"

namespace pasidbench {

struct MetricInfo {
  std::string name;
  std::string unit;
  Better better;
  std::string description;
};

const std::vector<MetricInfo>& metric_registry();
const MetricInfo* find_metric(const std::string& name);

}  // namespace pasidbench
