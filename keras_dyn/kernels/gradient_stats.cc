// keras_dyn's fused gradient-statistics kernel: one TensorFlow op that reduces each of a list
// of float32 tensors to [L2 norm, mean |g|, std, zero fraction] in a single pass over memory.
//
// Built and loaded by keras_dyn/gradient_table.py (g++ with TensorFlow's own compile and link
// flags, once per TensorFlow version, cached); the same four numbers as the pure-TensorFlow
// formulation there, which is used when this kernel cannot be built.
//
// Accuracy: each block of kBlock elements is summed in float32 (vectorised, in any order the
// compiler picks for these loops only), the blocks in float64; see Reduce for the deviation.
#include <cmath>
#include <cstdint>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace keras_dyn {

using ::tensorflow::OpInputList;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;

REGISTER_OP("KerasDynGradientStats")
    .Input("grads: N * float")
    .Attr("N: int >= 1")
    .Output("table: float")
    .SetShapeFn([](::tensorflow::shape_inference::InferenceContext* c) {
      int n;
      TF_RETURN_IF_ERROR(c->GetAttr("N", &n));
      c->set_output(0, c->Matrix(n, 4));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Per-tensor statistics of a list of gradients: row i of `table` holds the L2 norm, the mean
absolute value, the (population) standard deviation and the fraction of exact zeros of grads[i].
)doc");

namespace {

constexpr int64_t kBlock = 4096;

struct Sums {
  double sum = 0, sum_abs = 0, sum_sq = 0, nonzero = 0;
  double m2 = 0;  // sum of squared deviations from the mean (for the standard deviation)
};

// Two passes per block of kBlock elements: the first reads memory (sum, sum |x|, sum x^2, count
// of non-zeros), the second re-reads the block from L1 cache for its sum of squared deviations
// about the block mean. Blocks are merged with Chan et al.'s pairwise update, so the standard
// deviation stays accurate when |mean| >> std (sum x^2 / n - mean^2 would cancel).
__attribute__((target_clones("avx512f", "avx2", "default")))
Sums Reduce(const float* p, int64_t n) {
  Sums out;
  double count = 0, mean = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    float s = 0.f, sa = 0.f, sq = 0.f, nz = 0.f;
#pragma omp simd reduction(+ : s, sa, sq, nz)
    for (int64_t i = b; i < e; ++i) {
      const float x = p[i];
      s += x;
      sa += std::fabs(x);
      sq += x * x;
      nz += (x != 0.f) ? 1.f : 0.f;  // NaN counts as non-zero
    }
    const double nb = static_cast<double>(e - b);
    const float block_mean = static_cast<float>(s / nb);
    float m2 = 0.f;
#pragma omp simd reduction(+ : m2)
    for (int64_t i = b; i < e; ++i) {
      const float d = p[i] - block_mean;
      m2 += d * d;
    }
    const double delta = static_cast<double>(s) / nb - mean;
    const double total = count + nb;
    out.m2 += m2 + delta * delta * count * nb / total;
    mean += delta * nb / total;
    count = total;
    out.sum += s;
    out.sum_abs += sa;
    out.sum_sq += sq;
    out.nonzero += nz;
  }
  return out;
}

}  // namespace

class GradientStatsOp : public OpKernel {
 public:
  explicit GradientStatsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    OpInputList grads;
    OP_REQUIRES_OK(ctx, ctx->input_list("grads", &grads));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(
                            0, TensorShape({static_cast<int64_t>(grads.size()), 4}), &out));
    auto table = out->matrix<float>();
    for (int v = 0; v < grads.size(); ++v) {
      const auto flat = grads[v].flat<float>();
      const int64_t n = flat.size();
      const Sums s = Reduce(flat.data(), n);
      const double count = n > 0 ? static_cast<double>(n) : 1.0;
      const double var = s.m2 / count;
      table(v, 0) = static_cast<float>(std::sqrt(s.sum_sq));
      table(v, 1) = static_cast<float>(s.sum_abs / count);
      table(v, 2) = static_cast<float>(std::sqrt(var));
      table(v, 3) = static_cast<float>(n > 0 ? 1.0 - s.nonzero / count : 0.0);
    }
  }
};

REGISTER_KERNEL_BUILDER(Name("KerasDynGradientStats").Device(::tensorflow::DEVICE_CPU), GradientStatsOp);

}  // namespace keras_dyn
