namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// The post-processing settings of a family's own predict script, used wherever the user gives no flag.
/// </summary>
/// <param name="ConfThreshold">Confidence threshold (<c>conf_thres</c>/<c>conf</c>).</param>
/// <param name="IouThreshold">NMS IoU threshold (<c>iou_thres</c>/<c>iou</c>).</param>
/// <param name="MaxDetections">Detections kept per image (<c>max_det</c>).</param>
/// <param name="ClassOffset">Box offset per class id that keeps classes apart in class-aware NMS (upstream's <c>max_wh</c>).</param>
/// <param name="SingleClassUsesObjectness">YOLOv7: a one-class model's confidence is its objectness alone.</param>
/// <param name="RoundedPadding">Boxes are mapped back with the letterbox padding rounded (Ultralytics' <c>scale_boxes</c>) rather than exact.</param>
/// <param name="Source">Where these settings come from upstream, e.g. "yolov5 detect.py".</param>
public sealed record PredictDefaults(float ConfThreshold, float IouThreshold, int MaxDetections, float ClassOffset,
    bool SingleClassUsesObjectness, bool RoundedPadding, string Source);
